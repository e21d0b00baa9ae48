"""``kubeproxy-sim completion bash|zsh``: a shell completion script generated from the argument parser.

The script is written from the parser itself (commands, nested subcommands,
flags, choices), so it can never disagree with ``--help``. What a flag's value
completes to is decided here: files for flags that take a path, the scenarios
of ``rulesets/`` for ``--scenario`` (and, besides files, the ones with a
kubectl script for ``scenario FILE|NAME``), an option's choices when it has them, the forms a
``--from SRC`` (and ``netns exec NAME TARGET``'s TARGET) begins with (``pod/``, ``node/``, ``external``). The
script is static
(computed once, when it is generated): completing costs the shell nothing and
needs no Python. One thing is looked up at TAB time, by the shell alone: the
clusters ``netns send|exec|down NAME`` can name, the names of the state files
in the state directory (kernel.state.state_dir's, from the same environment
variables) and, unless $KPSIM_STATE_DIR names one, in /run/kubeproxy-sim too:
netns needs root, and ``sudo kubeproxy-sim netns up`` runs without the
caller's $XDG_RUNTIME_DIR (sudo's env_reset keeps no XDG variable), so its
cluster is recorded there while the completing shell's own variable names
another directory. A directory listing, nothing run, nothing that needs root.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SHELLS = ("bash", "zsh")
PROG = "kubeproxy-sim"
FILE_FLAGS = frozenset({"-f", "--filename", "--rules", "--config"})
FILE_METAVAR = re.compile(r"\b(FILE|PATH|DUMP|DIR|STATE)\b")
NAME_METAVAR = re.compile(r"\bNAME\b")  # a positional FILE|NAME (scenario's script): a file or a built-in scenario
SOURCE_METAVAR = "SRC"  # send's, dist's and netns send's --from
SOURCE_FORMS = ("pod/", "node/", "external", "external:")
"""What a --from SRC begins with (pod/NS/NAME, node/NAME, external, external:IP); one ending in '/' or ':' is
completed without a space after it, as the rest of the word follows. netns send's address is not offered."""
CLUSTER_COMMANDS = frozenset({("netns", "send"), ("netns", "exec"), ("netns", "down")})
"""The commands whose first positional, NAME, is a running cluster's name (netns up --name's)."""
TARGET_POSITIONALS = frozenset({(("netns", "exec"), "target")})
"""The positionals that take what --from SRC takes (netns exec NAME TARGET: node/NAME, pod/NS/NAME, external[:IP])."""
DEFAULT_STATE_DIR = "/run/kubeproxy-sim"
"""kernel.state.state_dir's directory when no variable names one: root's under sudo, which drops them all."""
EXAMPLES = """examples:
  mkdir -p ~/.local/share/bash-completion/completions &&
    kubeproxy-sim completion bash > ~/.local/share/bash-completion/completions/kubeproxy-sim
  source <(kubeproxy-sim completion bash)
  kubeproxy-sim completion zsh > "${fpath[1]}/_kubeproxy-sim"
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script for bash or zsh: commands, subcommands and flags, files for "
        "flags that take a path, the built-in scenarios for --scenario (and, with files, those with a script for "
        "scenario's script), "
        "each flag's choices, the forms --from and netns exec's TARGET begin with (pod/, node/, external) and, for "
        "netns send|exec|down, "
        "the clusters in the state directory and, unless $KPSIM_STATE_DIR is set, in /run/kubeproxy-sim, where "
        "sudo's are recorded (listed by the shell at TAB time). Load it for "
        "this shell with `source <(kubeproxy-sim completion bash)`, or install it as shown below.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to write the script for")
    parser.set_defaults(func=run)


# --------------------------------------------------------------------------- the parser as data


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One flag (or positional) and what its value completes to."""

    flags: tuple[str, ...]  # empty for a positional
    help: str
    takes_value: bool
    repeatable: bool = False
    metavar: str = ""
    choices: tuple[str, ...] = ()
    files: bool = False  # with choices too (scenario FILE|NAME): the choices and the files both
    optional_value: bool = False  # ``--flag`` alone or ``--flag=VALUE`` (kube-proxy's boolean flags)
    clusters: bool = False  # a cluster's name (netns send NAME): the state directory's, looked up at TAB time


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command (the program itself has the empty path) with its flags and subcommands."""

    path: tuple[str, ...]
    help: str
    options: tuple[OptionSpec, ...]
    positionals: tuple[OptionSpec, ...]
    subcommands: tuple[CommandSpec, ...] = ()

    def walk(self) -> Iterable[CommandSpec]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()


def scenario_names(root: Path | None = None) -> tuple[str, ...]:
    """The built-in scenarios: folders of rulesets/ with a scenario.yaml."""
    if root is None:
        from kubeproxy_sim.cli.options import REPO_RULESETS

        root = REPO_RULESETS
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "scenario.yaml").is_file()))


def _help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The flag's help as --help shows it (%(default)s expanded), first sentence, one line."""
    text = action.help or ""
    with contextlib.suppress(KeyError, TypeError, ValueError):
        text = parser._get_formatter()._expand_help(action)
    return first_sentence(" ".join(text.split()))


def first_sentence(text: str) -> str:
    """Up to the first ". " or "; " outside parentheses: a completion menu has one line per flag."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char in ".;" and text[index + 1:index + 2] == " ":
            return text[:index]
    return text.rstrip(".;")


def _option(parser: argparse.ArgumentParser, action: argparse.Action, scenarios: tuple[str, ...],
            scripts: tuple[str, ...]) -> OptionSpec:
    takes_value = action.nargs != 0
    metavar = action.metavar if isinstance(action.metavar, str) else (action.dest or "").upper()
    choices: tuple[str, ...] = tuple(str(c) for c in action.choices) if action.choices else ()
    if any(flag.endswith("-scenario") for flag in action.option_strings) and not choices:
        choices = scenarios  # --scenario, and diff's --against-scenario
    files = takes_value and not choices and (bool(FILE_FLAGS & set(action.option_strings))
                                             or bool(FILE_METAVAR.search(metavar or "")))
    if files and not action.option_strings and NAME_METAVAR.search(metavar or ""):
        choices = scripts  # scenario FILE|NAME: a script file, or the name of a built-in scenario with a script
    repeatable = isinstance(action, argparse._AppendAction | argparse._CountAction | argparse._AppendConstAction)
    optional = action.nargs == "?" and bool(action.option_strings)
    if optional and not choices and metavar == "true|false":
        choices = ("true", "false")
    if takes_value and not choices and action.option_strings and metavar == SOURCE_METAVAR:
        choices = SOURCE_FORMS
    return OptionSpec(tuple(action.option_strings), _help_text(parser, action), takes_value, repeatable,
                      metavar or "", choices, files, optional)


def command_spec(parser: argparse.ArgumentParser, path: tuple[str, ...] = (), help_text: str = "",
                 scenarios: tuple[str, ...] | None = None, scripts: tuple[str, ...] | None = None) -> CommandSpec:
    """The parser (and its subparsers, recursively) as plain data. ``scenarios``: the built-in scenarios
    (``--scenario``); ``scripts``: those with a kubectl script, the names ``scenario FILE|NAME`` accepts."""
    scenarios = scenario_names() if scenarios is None else scenarios
    if scripts is None:
        from kubeproxy_sim.cli.scenario_cmd import builtin_scripts

        scripts = tuple(builtin_scripts())
    options: list[OptionSpec] = []
    positionals: list[OptionSpec] = []
    subcommands: list[CommandSpec] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS and not isinstance(action, argparse._SubParsersAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                subcommands.append(command_spec(sub, (*path, name), helps.get(name, ""), scenarios, scripts))
        elif action.option_strings:
            options.append(_option(parser, action, scenarios, scripts))
        else:
            positional = _option(parser, action, scenarios, scripts)
            if path in CLUSTER_COMMANDS and action.dest == "name":
                positional = dataclasses.replace(positional, clusters=True)
            elif (path, action.dest) in TARGET_POSITIONALS:
                positional = dataclasses.replace(positional, choices=SOURCE_FORMS)
            positionals.append(positional)
    return CommandSpec(path, help_text, tuple(options), tuple(positionals), tuple(subcommands))


# --------------------------------------------------------------------------- bash


def _words(items: Iterable[str]) -> str:
    return " ".join(items)


def _bash_case(pairs: Sequence[tuple[str, str]], indent: str = "        ") -> list[str]:
    return [f'{indent}"{key}") echo "{value}" ;;' for key, value in pairs if value]


def _bash_tables(tables: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> list[str]:
    """``_lookup TABLE PATH``: the subcommands, flags, flags taking a value, positional choices of a path."""
    lines: list[str] = []
    for table, rows in tables:
        lines += [f"    {table})", '        case "$2" in', *_bash_case(rows, "        "), "        esac ;;"]
    return lines


def _ident(word: str) -> str:
    return re.sub(r"\W", "_", word)


def _bash_values(spec: CommandSpec) -> list[tuple[str, str]]:
    """(``path|flag``, what the value completes to) for every flag that takes a value."""
    found: list[tuple[str, str]] = []
    key = " ".join(spec.path)
    for option in spec.options:
        if not option.takes_value or (option.optional_value and not option.choices):
            continue
        value = "@file" if option.files else _words(option.choices) or "@none"
        found.extend((f"{key}|{flag}", value) for flag in option.flags)
    return found


def bash_script(spec: CommandSpec, prog: str = PROG) -> str:
    """A bash completion function over the command tree; registered with ``complete -F``."""
    fn = "_" + _ident(prog)
    commands = list(spec.walk())
    subs = [(" ".join(c.path), _words(s.path[-1] for s in c.subcommands)) for c in commands]
    opts = [(" ".join(c.path), _words(f for o in c.options for f in o.flags)) for c in commands]
    valued = [(" ".join(c.path), _words(f for o in c.options if o.takes_value and not o.optional_value
                                         for f in o.flags)) for c in commands]
    positional = [(" ".join(c.path), _words(ch for p in c.positionals if p.choices != SOURCE_FORMS
                                            for ch in p.choices)) for c in commands]
    # the position (1-based) of the positional taking --from's forms, offered there alone (netns exec NAME TARGET)
    posforms = [(" ".join(c.path), next((str(i) for i, p in enumerate(c.positionals, start=1)
                                         if p.choices == SOURCE_FORMS), "")) for c in commands]
    posfile = [(" ".join(c.path), "@file" if any(p.files for p in c.positionals) else "") for c in commands]
    clusters = [(" ".join(c.path), "@clusters" if any(p.clusters for p in c.positionals) else "") for c in commands]
    optional = [(" ".join(c.path), _words(f for o in c.options if o.optional_value and o.choices for f in o.flags))
                for c in commands]
    values = [pair for c in commands for pair in _bash_values(c)]
    lines = [
        f"# bash completion for {prog}; generated by `{prog} completion bash` (do not edit)",
        f"{fn}_lookup() {{",
        '    case "$1" in',
        *_bash_tables((("sub", subs), ("opts", opts), ("valued", valued), ("pos", positional),
                       ("posfile", posfile), ("clusters", clusters), ("posforms", posforms),
                       ("optional", optional))),
        "    esac",
        "}",
        f"{fn}_value() {{",
        '    case "$1" in',
        *_bash_case(values, "    "),
        '    *) echo "@none" ;;',
        "    esac",
        "}",
        f"{fn}_clusters() {{  # the state files' names (state_dir's, and sudo's): a listing, nothing run",
        '    local d f',
        '    if [[ -n "$KPSIM_STATE_DIR" ]]; then set -- "$KPSIM_STATE_DIR"',
        f'    else set -- ${{XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR/kubeproxy-sim"}} {DEFAULT_STATE_DIR}; fi',
        '    for d in "$@"; do',
        '        for f in "$d"/*.json; do [[ -f "$f" ]] && f="${f##*/}" && echo "${f%.json}"; done',
        "    done  # (a name in both is offered once: readline drops duplicate matches)",
        "}",
        f"{fn}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" path="" i w eq="" bools="" npos=0',
        '    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    if [[ "$prev" == "=" && COMP_CWORD -gt 1 ]]; then prev="${COMP_WORDS[COMP_CWORD-2]}"; eq=1; fi',
        '    if [[ "$cur" == "=" ]]; then prev="${COMP_WORDS[COMP_CWORD-1]}"; cur=""; eq=1; fi',
        "    for (( i = 1; i < COMP_CWORD; i++ )); do",
        '        w="${COMP_WORDS[i]}"',
        f'        if [[ " $({fn}_lookup valued "$path") " == *" $w "* ]]; then',
        '            [[ "${COMP_WORDS[i+1]}" == "=" ]] && (( i++ ))',
        "            (( i++ )); continue",
        "        fi",
        f'        if [[ "$w" != -* && " $({fn}_lookup sub "$path") " == *" $w "* ]]; then',
        '            path="${path:+$path }$w"',
        '        elif [[ "$w" != -* ]]; then',
        "            (( npos++ ))  # a positional (or a boolean flag's value: then no cluster is offered)",
        "        fi",
        "    done",
        f'    if [[ -n "$prev" && "$prev" == -* && " $({fn}_lookup valued "$path") " == *" $prev "* ]]; then',
        f'        local values; values="$({fn}_value "$path|$prev")"',
        '        case "$values" in',
        '            @file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;',
        "            @none) COMPREPLY=() ;;",
        '            *) COMPREPLY=( $(compgen -W "$values" -- "$cur") )',
        "               # one form begun (--from pod/): the rest of the word follows it, no space",
        '               [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *[/:] ]] && compopt -o nospace 2>/dev/null',
        "               ;;",
        "        esac",
        "        return 0",
        "    fi",
        "    # kube-proxy's boolean flags take an optional value (--masquerade-all [true|false]): its values after",
        "    # \"=\", and in the next word those and what follows the bare flag (a word that is no boolean is not its)",
        f'    if [[ "$cur" != -* && " $({fn}_lookup optional "$path") " == *" $prev "* ]]; then',
        f'        bools="$({fn}_value "$path|$prev")"',
        '        if [[ -n "$eq" ]]; then COMPREPLY=( $(compgen -W "$bools" -- "$cur") ); return 0; fi',
        "    fi",
        '    if [[ "$cur" == -* ]]; then',
        f'        COMPREPLY=( $(compgen -W "$({fn}_lookup opts "$path")" -- "$cur") )',
        "    else",
        f'        COMPREPLY=( $(compgen -W "$bools $({fn}_lookup sub "$path") $({fn}_lookup pos "$path")" -- "$cur") )',
        f'        if [[ -n "$({fn}_lookup posfile "$path")" ]]; then  # positional files (replay STATE, scenario FILE)',
        '            compopt -o filenames 2>/dev/null',
        '            mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")',
        "        fi",
        f'        if [[ npos -eq 0 && -n "$({fn}_lookup clusters "$path")" ]]; then  # netns send NAME',
        f'            COMPREPLY+=( $(compgen -W "$({fn}_clusters)" -- "$cur") )',
        "        fi",
        f'        if [[ "$({fn}_lookup posforms "$path")" == "$(( npos + 1 ))" ]]; then  # netns exec NAME TARGET',
        f'            COMPREPLY+=( $(compgen -W "{" ".join(SOURCE_FORMS)}" -- "$cur") )',
        '            [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *[/:] ]] && compopt -o nospace 2>/dev/null',
        "        fi",
        "    fi",
        "    return 0",
        "}",
        f"complete -F {fn} {prog}",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- zsh


def _zsh_quote(text: str) -> str:
    """Text inside a single-quoted zsh word."""
    return text.replace("'", "'\\''")


def _zsh_desc(text: str) -> str:
    """An _arguments description: brackets and colons would end it early."""
    return _zsh_quote(text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:"))


def _zsh_action(option: OptionSpec, fn: str) -> str:
    if option.clusters:
        return f"{fn}_clusters"
    if option.choices == SOURCE_FORMS:  # a function: a colon in the spec's action would end it
        return f"{fn}_sources"
    if option.files and option.choices:  # both, each under its own heading
        names = " ".join(c.replace(" ", "\\ ") for c in option.choices)
        return f'_alternative "names:built-in scenario:({names})" "files:file:_files"'
    if option.files:
        return "_files"
    if option.choices:
        return "(" + " ".join(c.replace(" ", "\\ ") for c in option.choices) + ")"
    return " "


def _zsh_option(option: OptionSpec, fn: str) -> str:
    """One _arguments spec, e.g. ``'*'{-f,--filename}'[manifests]:PATH:_files'``."""
    desc = f"[{_zsh_desc(option.help)}]"
    value = ""
    if option.takes_value:
        message = _zsh_quote((option.metavar or "value").replace(":", " "))
        value = f"{'::' if option.optional_value else ':'}{message}:{_zsh_action(option, fn)}"
    star = "*" if option.repeatable else ""
    # "--flag=": the value may follow in the next word or after "=" (argparse takes both); short flags stay bare
    flags = [f"{flag}=" if option.takes_value and flag.startswith("--") else flag for flag in option.flags]
    if len(flags) == 1:
        return f"'{star}{flags[0]}{desc}{value}'"
    exclusive = "" if option.repeatable else "(" + " ".join(option.flags) + ")"
    return f"'{exclusive}{star}'{{{','.join(flags)}}}'{desc}{value}'"


def _zsh_function(spec: CommandSpec, fn: str) -> list[str]:
    name = fn + "".join("_" + _ident(p) for p in spec.path)
    args = [_zsh_option(o, fn) for o in spec.options]
    if spec.subcommands:
        body = [
            f"{name}() {{",
            "    local curcontext=\"$curcontext\" state line",
            "    typeset -A opt_args",
            "    _arguments -C \\",
            *(f"        {a} \\" for a in args),
            "        '1: :->command' \\",
            "        '*:: :->args'",
            "    case $state in",
            "        command)",
            "            local -a commands",
            "            commands=(",
            *(f"                '{_zsh_quote(s.path[-1].replace(':', '_'))}:{_zsh_quote(s.help)}'"
              for s in spec.subcommands),
            "            )",
            "            _describe -t commands 'command' commands ;;",
            "        args)",
            "            case $line[1] in",
            *(f"                {s.path[-1]}) {name}_{_ident(s.path[-1])} ;;" for s in spec.subcommands),
            "            esac ;;",
            "    esac",
            "}",
        ]
    else:
        positionals = [f"'{i}:{_zsh_quote(p.metavar or 'arg')}:{_zsh_action(p, fn)}'"
                       for i, p in enumerate(spec.positionals, start=1)]
        specs = [*args, *positionals]
        body = [f"{name}() {{", "    _arguments -s \\", *(f"        {a} \\" for a in specs[:-1])]
        body.append(f"        {specs[-1]}" if specs else "        '*: :'")
        body.append("}")
    for sub in spec.subcommands:
        body += ["", *_zsh_function(sub, fn)]
    return body


def zsh_script(spec: CommandSpec, prog: str = PROG) -> str:
    """A zsh completion function (``#compdef``): drop it in $fpath as ``_kubeproxy-sim`` or source it."""
    fn = "_" + _ident(prog)
    lines = [f"#compdef {prog}", f"# zsh completion for {prog}; generated by `{prog} completion zsh` (do not edit)",
             "", *_zsh_function(spec, fn), "",
             f"{fn}_sources() {{  # --from SRC: a form begun (pod/) takes no space after it",
             f"    compadd -S '' -- {' '.join(c for c in SOURCE_FORMS if c.endswith(('/', ':')))}",
             f"    compadd -- {' '.join(c for c in SOURCE_FORMS if not c.endswith(('/', ':')))}",
             "}",
             "",
             f"{fn}_clusters() {{  # the state files' names (state_dir's, and sudo's): a listing, nothing run",
             "    local -a dirs names",
             "    if [[ -n $KPSIM_STATE_DIR ]]; then dirs=( $KPSIM_STATE_DIR )",
             f"    else dirs=( ${{XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/kubeproxy-sim}} {DEFAULT_STATE_DIR} ); fi",
             "    names=( ${^dirs}/*.json(N.:t:r) )",
             "    compadd -- ${(u)names}  # a name in both offered once",
             "}",
             "",
             'if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then',
             f'    {fn} "$@"',
             "else",
             f"    compdef {fn} {prog}",
             "fi"]
    return "\n".join(lines) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    spec = command_spec(parser)
    return bash_script(spec) if shell == "bash" else zsh_script(spec)


def run(args: argparse.Namespace) -> int:
    import sys

    from kubeproxy_sim.cli.main import build_parser

    sys.stdout.write(script(args.shell, build_parser()))
    return 0
